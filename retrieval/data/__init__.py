"""Data loading: the ClothoV2 layout (captions, metadata keywords, audio) and the cached log-mel frontend."""
