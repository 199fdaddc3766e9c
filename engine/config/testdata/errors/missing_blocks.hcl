variable "x" { # ERROR: Missing source block # ERROR: Missing target block # ERROR: Missing mapping block
  default = "y"
}

# Without any source, a groups block adds no error of its own: the
# missing source block is the one to fix.
groups "studio" {
  base_dn = "ou=groups,dc=example,dc=com"
}
