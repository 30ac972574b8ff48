# Real signals to real MPI jobs (CONTRACT sections 5 and 6), through the heat example.
if(CKPT_BUILD_EXAMPLES)
  foreach(case usr1 term term_without_shutdown every_depth interval_depth)
    foreach(np 2 4)
      set(name signals.heat_${case}.np${np})
      add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} ${np} ${case})
      set_tests_properties(${name} PROPERTIES PROCESSORS ${np} LABELS signals TIMEOUT 300)
    endforeach()
  endforeach()
  add_test(NAME signals.heat_shutdown_on_a_full_disk_exits_74.np2
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} 2 enospc)
  set_tests_properties(signals.heat_shutdown_on_a_full_disk_exits_74.np2 PROPERTIES
                       PROCESSORS 2 LABELS signals TIMEOUT 300 SKIP_RETURN_CODE 77)
  add_test(NAME signals.heat_bad_options_exit_with_contract_status
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} 1 bad_options)
  set_tests_properties(signals.heat_bad_options_exit_with_contract_status PROPERTIES LABELS signals TIMEOUT 120)
endif()
