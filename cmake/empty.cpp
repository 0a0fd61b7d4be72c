// libpixelflow.so takes all its code from the pixelflow_core archive (linked whole).
