"""The one model: Image and Level (lazy N-D arrays with named axes), the slide and volume views, planes."""
