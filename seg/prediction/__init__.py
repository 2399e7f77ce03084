"""Using a trained model.

- inference  the model loaded safely, batched and tiled prediction (torch)
- output     the prediction folder: masks, previews, metrics, measurements; read back
- scores     Dice, IoU and confusion, per class and per image
- measure    objects and their sizes (scikit-image)
- bundle     the model as a download, with a fastai export
"""
