//! System tests: the whole platform, driven as users drive it. Shared helpers live here.
