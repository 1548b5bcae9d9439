"""What a tester steers the mock with: faults, chaos, scenarios, the clock, the journal and the admin API."""
