"""adu_depth_ros: thin ROS 2 nodes over adu_depth_core (messages in, arrays to the library, messages out)."""
