"""Reports of recorded runs: plain text, the terminal summary, and the HTML page with its flow graph."""
