# cmake -DINPUT=conf/keywords.conf -DOUTPUT=keywords_builtin.c -P embed_keywords.cmake
# Writes the file as a C array of bytes (no escaping questions), NUL-terminated.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE ${OUTPUT}
     "/* generated from conf/keywords.conf by parse/embed_keywords.cmake: do not edit */\n"
     "extern const char parse_builtin_keywords[];\n"
     "const char parse_builtin_keywords[] = {\n${bytes}0x00};\n")
