"""Training a model in its own process, which writes the run folder.

- callbacks  fastai callbacks that write events, weights and samples, and stop on request
- train      a run from start to final status: prepare, config, fit, then scores
- config     config.json: settings, data fingerprint, device, starting weights, format, plan, trials
- final_scores the end of a run: the best weights scored on the validation images at their own size
- lr_finder  fastai's learning-rate finder: the curve, suggestions, the planner's valley
- format_choice the number format applied to a learner, chosen by timing a few steps of each
- prepare    the dataset and settings checked before anything is written
- pace       seconds per image on a device: timed batches, earlier runs, the estimate before Start
- planner    a plan for a time budget: size, batch, epochs, learning rate, loss
- halving    successive halving over candidates (testable with a fake trainer and clock)
- trials     the candidates tried with fastai learners, scored at the images' own size
- trial_setup a planned run's trials set up: candidates around its plan, scoring images, time
- budget     training to a clock: steps, a deadline
- split_tuning the end of a run on objects: the split into objects tuned, objects.json
"""
