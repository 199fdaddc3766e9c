ldap_password = "from-var-file"
domain        = "file.example.com"
unknown_thing = 1
