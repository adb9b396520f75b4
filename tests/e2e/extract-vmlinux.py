#!/usr/bin/env python3
"""Write the uncompressed ELF kernel inside a Debian (XZ-compressed) bzImage.

usage: extract-vmlinux.py BZIMAGE OUT
Booting the ELF instead of the bzImage saves Xen the decompression (about 5 s under TCG).
"""
import lzma
import sys


def main():
    data = open(sys.argv[1], 'rb').read()
    start = data.find(b'\xfd7zXZ\x00')
    while start >= 0:
        try:
            out = lzma.LZMADecompressor().decompress(data[start:])
        except lzma.LZMAError:
            out = b''
        if out[:4] == b'\x7fELF':
            with open(sys.argv[2], 'wb') as f:
                f.write(out)
            return 0
        start = data.find(b'\xfd7zXZ\x00', start + 1)
    sys.exit('%s: no XZ-compressed ELF kernel inside' % sys.argv[1])


if __name__ == '__main__':
    sys.exit(main())
