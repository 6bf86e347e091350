"""The review report: counting rules, review findings, counting in SQL, and output formats."""
