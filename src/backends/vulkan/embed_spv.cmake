# Writes the SPIR-V file SPV as a C++ byte array spv_<NAME> into OUT.
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" n_hex)
math(EXPR n_bytes "${n_hex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "// Generated from ${NAME}.spv\nnamespace hearth::vk {\nextern const unsigned char spv_${NAME}[];\nextern const unsigned spv_${NAME}_size;\nalignas(4) const unsigned char spv_${NAME}[] = {\n${bytes}};\nconst unsigned spv_${NAME}_size = ${n_bytes};\n}\n")
