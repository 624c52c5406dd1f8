"""sfsync's front ends that need a terminal: the Textual app and the command line."""
