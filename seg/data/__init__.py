"""Datasets, read and checked; nothing here imports torch but `dataloaders`.

- discovery    image/mask pairs in the layouts people use
- images       reading image files of every format, safely
- decoding     the bytes of decoded pixels the reading threads hold at once
- tiff         how a TIFF lays out its values: channels, alpha, OME names
- stacks       TIFF stacks read as 2-D slices; `Slice`, a part of a file
- large        images past Pillow's limit read by regions from a tiled TIFF; bombs refused
- jpeg         the frame of a TIFF's JPEG tiles read before decoding: a tile claiming too many pixels refused
- regions      a large image with its mask as pairs of regions
- channels     what the model sees of an image: RGB, or chosen channels scaled by percentiles
- display      an image as a person sees it: 8-bit, RGB, composites
- masks        mask encodings: values, colours, palettes -> class indices
- codes        class names and colours (codes.txt)
- report       problems, each naming its file and the fix
- scan         what one pair's files hold, read once (never raises: problems go to the report)
- dataset      a dataset opened and checked: pairs, classes, split, statistics
- dataloaders  fastai DataLoaders for training (torch)
- uploads      zipped datasets and uploaded images, unpacked safely
- demo         the built-in demo dataset
- overlay      masks drawn over images
"""
