# Runs protoc-c for the build (cmake -P), dropping the one warning the containerd protos always give
# ("Import gogoproto/gogo.proto is unused": a weak import only the Go generator reads), so that the build
# output shows real problems only.
#   -DPROTOC_C=... -DWORKDIR=... -DARGS=<arguments separated by |>
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${PROTOC_C} ${args} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc ERROR_VARIABLE err)
string(REGEX REPLACE "[^\n]*warning: Import gogoproto/gogo.proto is unused\\.[^\n]*\n?" "" err "${err}")
if(err)
  message("${err}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "protoc-c failed (${rc})")
endif()
