# Quality gates: warnings everywhere, -Werror in CI, sanitizers on request.
set(GS_WARN_FLAGS -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
    -Wno-unused-parameter -Wvla -Wpointer-arith)
if(GS_WERROR)
  list(APPEND GS_WARN_FLAGS -Werror)
endif()
add_compile_options(${GS_WARN_FLAGS})
add_compile_definitions(_POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
if(GS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
