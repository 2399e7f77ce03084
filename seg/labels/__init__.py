"""Masks people don't have yet: labelling in the workspace, never in the user's folder.

- store      a labels set: masks, a record of how each was made, versions, backups of replaced work
- keys       an image's key in a set (its mask's name), one image a key
- assist     strokes to a whole mask (a pixel classifier that learns across images), a click to a region
- rle        masks to and from the browser's editor, run-length encoded: exact class values
- queue      label next: images ranked by a model's uncertainty
"""
