"""Reports: the figures of one run (``plot``), and training and measuring several objectives on one data set
(``compare``, ``demo``).

==================  ==========================================================================================
``figures.py``      one run's figures, with the sampler's verdict and the mode check
``compare.py``      training each objective and measuring it against held-out data and the exact truth
``contestants.py``  one contestant: a trained objective (surviving divergence) or a network-free estimator
``quality.py``      quality measured during training at regular wall-clock times, runaway energies
``measures.py``     sample quality (MMD², C2ST), the grid density and the mode check
``markdown.py``     writing ``report.md`` (a measure that could not be taken is shown missing, with why)
``console.py``      the stage lines printed while a report is made
==================  ==========================================================================================
"""

from .compare import N_TEST, compare
from .figures import plot_run

__all__ = ["N_TEST", "compare", "plot_run"]
