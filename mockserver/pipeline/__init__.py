"""The request pipeline: a raw request checked against the contract, handed to its vendor, answered."""
