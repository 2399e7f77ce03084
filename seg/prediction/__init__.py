"""Using a trained model.

- model      a run's model loaded safely (weights_only: a weights file is never unpickled into code)
- inference  batched and tiled prediction, in the number format fastest here (torch)
- files      files predicted in order, read in threads while the model runs
- output     the prediction folder: masks, previews, metrics, measurements
- large      an image read by regions predicted by tiles into a tiled mask
- folder     a prediction folder read back; the predictions made with a run
- measure    objects and their sizes (scikit-image)
- previews   each image's preview sheet (truth, prediction, errors; objects in their own colours)
- instances  a run on objects' prediction split into objects: instances/ (16-bit ids)
- bundle     the model as a download, with a fastai export and ONNX
- exports    the formats a model is exported in, by name: one record each (the CLI, the Predict page, docs)
- export     the model as ONNX, checked against PyTorch with ONNX Runtime
- bioimageio the model as a BioImage Model Zoo package (Fiji, ilastik, QuPath), tested with bioimageio.core
"""
