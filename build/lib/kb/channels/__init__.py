"""What other channels read: the search API's answers, the MCP server, llms.txt and Markdown twins."""
