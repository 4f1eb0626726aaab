"""Settings for every test and doctest of the project."""

import torch

# Test-sized networks run fastest on one thread, and one thread per test process
# avoids OpenMP oversubscription when tests (or GridSearchCV workers) share cores.
torch.set_num_threads(1)
