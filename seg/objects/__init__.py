"""Objects, not only pixels: masks holding one id per object, and predictions split into objects.
Nothing here imports torch: every function takes and returns numpy arrays.

- ids        instance masks recognised (one id per object), and what they hold: objects per image, sizes,
             the share that touch another
- target     the training target made from ids: background, object interior, boundary
- split      a prediction's probabilities split into objects (seeded watershed), its two parameters tuned
- matching   objects matched by IoU: AP at 0.5, mean AP over 0.5:0.95 (2018 Data Science Bowl), counts
"""
