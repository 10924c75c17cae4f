//! A DNS server on loopback (hickory-server) serving the zones that tests and `dezky dev` publish into.
