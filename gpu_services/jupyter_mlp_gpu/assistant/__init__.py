"""The assistant's retrieval layer: embeddings (`embed`) and the vector store (`store`). Both import their heavy
libraries inside functions, so importing this package costs nothing."""
