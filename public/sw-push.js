// push handlers: written by the push work
