"""What the pages share, split by concern (pages/ holds only pages). Streamlit lives here and in pages/;
the work is in seg/.

- frame     the frame (app.py) around every page, even when a link opens a page first
- text      user-supplied text shown as text; scores and run labels
- access    sign-in, sharing, read-only, what a viewer may read, each session's uploads
- upload_guard, cache_guard  Streamlit's server guarded for any client: uploads, clear_cache
- state     what one page hands to the next: the chosen dataset, the Train page's settings
- datasets  datasets read once per change, thumbnails, the demo
- training  the device, starting, watching and stopping runs, the learning-rate finder, the planner
- predictions  models and predictions
"""
