# Real signals to real MPI jobs (docs/batch-contract.md sections 5 and 6), through the heat example.
if(CKPT_BUILD_EXAMPLES)
  foreach(case usr1 term term_without_shutdown every_depth interval_depth)
    foreach(np 2 4)
      set(name signals.heat_${case}.np${np})
      add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} ${np} ${case})
      set_tests_properties(${name} PROPERTIES PROCESSORS ${np} LABELS signals TIMEOUT 300)
    endforeach()
  endforeach()
  # A full disk (a small tmpfs; root only, skipped otherwise): no room for the metadata, or for the data.
  foreach(room metadata data compressed_data)
    set(case enospc)
    if(room STREQUAL "data")
      set(case enospc_data)
    elseif(room STREQUAL "compressed_data")
      set(case enospc_compressed)
    endif()
    foreach(np 2 4)
      set(name signals.heat_shutdown_with_no_room_for_${room}_exits_74.np${np})
      add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} ${np} ${case})
      set_tests_properties(${name} PROPERTIES PROCESSORS ${np} LABELS signals TIMEOUT 300 SKIP_RETURN_CODE 77)
    endforeach()
  endforeach()
  # Asynchronous checkpoints (docs/async.md): the same result; SIGKILL inside a background flush;
  # TERM while one waits on a slow fsync; EIO on one rank; a background fsync that never returns
  # (the watchdog); a background ENOSPC (root only, skipped otherwise).
  foreach(case async_same_result async_kill9 async_term async_eio_one_rank async_stuck async_enospc)
    foreach(np 2 4)
      set(name signals.heat_${case}.np${np})
      add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} ${np} ${case})
      set_tests_properties(${name} PROPERTIES PROCESSORS ${np} LABELS "signals;async" TIMEOUT 300 SKIP_RETURN_CODE 77
                           ENVIRONMENT "CKPT_FAULT_SHIM=$<TARGET_FILE:ckpt_fault_shim>;CKPT_COMMAND=${PROJECT_BINARY_DIR}/tools/ckpt")
    endforeach()
  endforeach()
  # Node caches on 2 simulated nodes (docs/multilevel.md): a rank SIGKILLed; resumes from the
  # caches, from the partner copies after deleting node 0's, from the shared directory after both.
  foreach(np 2 4)
    set(name signals.heat_cache_resume.np${np})
    add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} ${np} cache_resume)
    set_tests_properties(${name} PROPERTIES PROCESSORS ${np} LABELS "signals;multilevel" TIMEOUT 300)
  endforeach()
  add_test(NAME signals.heat_bad_options_exit_with_contract_status
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/signals/heat_signals.sh ${PROJECT_BINARY_DIR} 1 bad_options)
  set_tests_properties(signals.heat_bad_options_exit_with_contract_status PROPERTIES LABELS signals TIMEOUT 120)
endif()
