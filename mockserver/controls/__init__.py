"""What a tester steers the mock with: faults, chaos, scenarios, the clock, the journal, the admin API, the
control page and the metrics."""
