"""The model and what a run chooses.

- registry  backbones and losses: a name -> one small record (adding one is one entry)
- settings  DataSettings, TrainSettings and their checks (cheap to import)
- device    CUDA, Apple MPS or the CPU
- number_formats number formats and memory layouts (float32, channels-last, bfloat16, float16); `formats_for` a device
- pretrained ImageNet weights for the backbone: a named file or the torch cache, never downloaded
- losses    class weights and the losses (torch)
- pixel_scores the formulas: a confusion matrix of pixel counts, Dice, IoU, accuracy per class and image (numpy)
- metrics   Dice, IoU and foreground accuracy from one confusion matrix, with pixel_scores' formulas (torch)
- learner   fastai's U-Net learner and the ImageNet weights (torch)
"""
