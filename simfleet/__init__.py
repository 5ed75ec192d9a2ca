"""A simulated fleet of Jetson and x86 GPU hosts: chroots over cached Debian roots, one real sshd
each, with device profiles that lay down the files a real device has."""
