# Tests of the `ckpt` command (tools/ckpt.cpp, docs/command.md): every subcommand on checkpoints
# that examples/heat writes at 2 ranks, good and damaged, text and --json, exit codes asserted.
# Driven by tool_test.sh, one CTest test per case; JSON is checked by json_check.cpp, so the tests
# need neither python3 nor jq. Included from tests/CMakeLists.txt.
#
# tools.request_library needs the library side of requests (a USR1 at poll() makes rank 0 claim
# the request and answer it); it is labelled requires_library_requests and skips (exit 77) while
# no library header calls claim_request.

if(TARGET ckpt_cli AND TARGET heat)
  add_executable(ckpt_json_check ${CMAKE_CURRENT_LIST_DIR}/json_check.cpp)
  target_link_libraries(ckpt_json_check PRIVATE ckpt_dev_flags)
  target_compile_features(ckpt_json_check PRIVATE cxx_std_17)

  foreach(case help list info verify latest prune compressed incremental cache request_usage request_unanswered request_library)
    add_test(NAME tools.${case}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/tool_test.sh ${case} $<TARGET_FILE:ckpt_cli>
                     $<TARGET_FILE:heat> ${MPIEXEC_EXECUTABLE} $<TARGET_FILE:ckpt_json_check> ${PROJECT_SOURCE_DIR})
    set_tests_properties(tools.${case} PROPERTIES LABELS tools PROCESSORS 2 TIMEOUT 180 SKIP_RETURN_CODE 77)
  endforeach()
  set_property(TEST tools.request_library APPEND PROPERTY LABELS requires_library_requests)
endif()

# Files of format 1 (tests/fixtures/format1, written by the library of commit 1c81096^) stay
# readable: `ckpt verify` checks every checksum of one (the restore is in test_restore.cpp).
if(TARGET ckpt_cli)
  add_test(NAME tools.verify_reads_a_format_1_file
           COMMAND $<TARGET_FILE:ckpt_cli> verify ${PROJECT_SOURCE_DIR}/tests/fixtures/format1/ckpt.000001.h5)
  set_tests_properties(tools.verify_reads_a_format_1_file PROPERTIES LABELS tools TIMEOUT 60
                       PASS_REGULAR_EXPRESSION "verified 1 file: 1 valid, 0 invalid")
endif()

# Format 3 (docs/file-format.md): `ckpt info` and `ckpt verify` on the checkpoint that
# tests/redistribution/nm_state writes at 3 (and 4) ranks, one entry of every distribution; a
# byte flipped in a block, a concatenated and a replicated entry fails exactly that part.
# nm_state is defined in redistribution/redistribution_tests.cmake, included before this file.
if(TARGET ckpt_json_check AND TARGET nm_state)
  foreach(case distributed_info distributed_verify)
    add_test(NAME tools.${case}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/tool_test.sh ${case} $<TARGET_FILE:ckpt_cli>
                     $<TARGET_FILE:heat> ${MPIEXEC_EXECUTABLE} $<TARGET_FILE:ckpt_json_check> ${PROJECT_SOURCE_DIR}
                     $<TARGET_FILE:nm_state>)
    set_tests_properties(tools.${case} PROPERTIES LABELS tools PROCESSORS 2 TIMEOUT 180 SKIP_RETURN_CODE 77)
  endforeach()
endif()
