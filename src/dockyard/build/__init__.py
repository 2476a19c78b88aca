"""Images: build them from source, name them by version, ship them to registries.

Modules: ``versions`` (the commit and changes of a source, and the tag they
give), ``naming`` (the project, image names and labels), ``images`` (building
an environment's images through its engine), ``cleanup`` (removing them),
``registry`` (push, pull by digest, copy between registries),
``registry_api`` (the registry HTTP API: is a manifest there), ``credentials``
(where a registry password comes from) and ``errors`` (their error codes).
"""
