"""The model and what a run chooses.

- registry  backbones and losses: a name -> one small record (adding one is one entry)
- settings  DataSettings, TrainSettings and their checks (cheap to import)
- device    CUDA, Apple MPS or the CPU
- losses    class weights and the losses (torch)
- metrics   Dice, IoU and foreground accuracy from one confusion matrix (torch)
- learner   fastai's U-Net learner and the ImageNet weights (torch)
"""
