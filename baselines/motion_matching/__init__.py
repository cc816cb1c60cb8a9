"""Motion matching (Clavet 2016), the baseline game studios use for locomotion: search the mocap
database for the frame that best continues the current pose along the desired path, blend, repeat.

- :mod:`baselines.motion_matching.features`: the matching features (path ahead, ankles, root velocity).
- :mod:`baselines.motion_matching.database`: the searchable database and the settings.
- :mod:`baselines.motion_matching.controller`: playback along a control path with inertial blends.
- :mod:`baselines.motion_matching.generator`: the ``moglow evaluate --baseline motion-matching`` row.
"""
