"""Datasets, read and checked; nothing here imports torch but `dataloaders`.

- discovery    image/mask pairs in the layouts people use
- images       reading image files of every format, safely
- masks        mask encodings: values, colours, palettes -> class indices
- codes        class names and colours (codes.txt)
- report       problems, each naming its file and the fix
- dataset      a dataset opened and checked: pairs, classes, split, statistics
- dataloaders  fastai DataLoaders for training (torch)
- uploads      zipped datasets and uploaded images, unpacked safely
- demo         the built-in demo dataset
- overlay      masks drawn over images
"""
