"""The assistant's backend domain: the chat route (relayed to the AI services process), conversations, and the
index feed (docs/assistant.md)."""
