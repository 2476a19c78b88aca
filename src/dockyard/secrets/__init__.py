"""Secrets kept encrypted in git, in the sops file format.

- :mod:`dockyard.secrets.sops`: the format: each value AES-256-GCM under a
  data key, with its key path as additional data; a MAC over the values; the
  data key wrapped for each master key in the ``sops:`` metadata block. Files
  interoperate with the ``sops`` tool both ways.
- :mod:`dockyard.secrets.keys`: the master keys behind one small interface
  (a ``Recipient`` wraps a data key, an ``Identity`` unwraps it).
- :mod:`dockyard.secrets.age`: age recipients and identities (pyrage).

Plaintext lives only in memory; nothing here writes a file.
"""
