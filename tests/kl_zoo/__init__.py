"""Test zoo of KL implementations (plain modules; importing this package does nothing)."""
