"""The open on-camera storage format, and a simulated camera that writes real footage."""

from custody.camera.storage import (
    CameraRecording,
    CameraStorage,
    DeviceInfo,
    NotACamera,
    load_device_key,
)

__all__ = ["CameraRecording", "CameraStorage", "DeviceInfo", "NotACamera", "load_device_key"]
