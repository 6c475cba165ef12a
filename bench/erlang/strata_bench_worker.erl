%% The worker of bench/erlang/strata_bench_sup.erl: a gen_server that tells the bench it
%% started, from its init/1, and stops with an error when told to crash (as bench_supervision's
%% worker does in strata).
-module(strata_bench_worker).
-behaviour(gen_server).
-export([start_link/2, init/1, handle_call/3, handle_cast/2]).

start_link(Observer, Id) -> gen_server:start_link(?MODULE, {Observer, Id}, []).

init({Observer, Id}) ->
    Observer ! {started, Id, self()},
    {ok, Id}.

handle_call(_, _, Id) -> {reply, ok, Id}.

handle_cast(crash, Id) -> {stop, crash, Id}.
