"""The sandbox simulation: device state as a pure function of (device, instant, actions).

One module per device type holds that type's daily pattern; :mod:`.levels`
holds the rule by which actions bend a level-based pattern; :mod:`.project`
assembles the API's state fields.
"""

from wattbridge_sandbox.simulation.project import project_state

__all__ = ["project_state"]
