variable "x" { # ERROR: Missing source block # ERROR: Missing target block # ERROR: Missing mapping block
  default = "y"
}
