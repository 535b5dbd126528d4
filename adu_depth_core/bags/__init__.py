"""rosbag2 tooling without a running ROS graph (pure Python, via the ``rosbags`` library).

``io`` opens and writes bags (sqlite3 and MCAP; ``salvage`` reads truncated MCAP),
``messages`` turns numpy arrays into the same sensor_msgs the ROS node publishes
(and back), ``matching`` pairs frames by header stamp, ``lidar`` projects point
clouds to sparse depth; ``run`` / ``evaluate`` (+ ``eval_stats``, ``plots``) /
``to_dataset`` / ``sample_bag`` back the ``adu-depth bag-run``, ``bag-eval``,
``bag-to-dataset`` and ``make-sample-bag`` commands. Needs ``pip install .[bags]``.
"""
