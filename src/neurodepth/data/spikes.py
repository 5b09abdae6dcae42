"""The output-spike definition shared by our simulations and the authors' released data.

The paper counts a spike at each local maximum of the soma voltage above -25 mV; the threshold
lives here, in the lowest layer that reads it (``data.authors_data`` re-detects the release's
spikes with it; ``simulation.simulate`` detects ours and records it in every shard).
"""

from __future__ import annotations

SPIKE_THRESHOLD_MV = -25.0
