"""HTTP and CloudEvent handlers: parse a request, call the domain and the ports, shape the answer."""
