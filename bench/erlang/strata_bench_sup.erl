%% bench_supervision's suites (bench/supervision/main.cpp) under OTP's own supervisor: the same
%% work, the same checks, the same JSON lines, with system "erlang".
%%
%%   erl -noshell -pa DIR -s strata_bench_sup main SUITE N logged|quiet
%%
%% A supervisor reports every crash and restart to OTP's logger. `logged` keeps that, as OTP
%% ships, with the reports formatted and written to /dev/null (system "erlang"); `quiet` turns
%% the logger off (system "erlang-quiet"), the closer match to strata's bench, whose events go
%% to subscribers, of which there are none.
-module(strata_bench_sup).
-behaviour(supervisor).
-export([main/1, init/1]).

main([Suite, NText, Logging]) ->
    N = list_to_integer(atom_to_list(NText)),
    case Logging of
        quiet ->
            logger:set_primary_config(level, none),
            put(system, "erlang-quiet");
        logged ->
            ok = logger:remove_handler(default),
            ok = logger:add_handler(default, logger_std_h,
                                    #{config => #{type => {file, "/dev/null"},
                                                  filesync_repeat_interval => no_repeat}}),
            put(system, "erlang")
    end,
    process_flag(trap_exit, true),
    run(atom_to_list(Suite), N),
    halt(0);
main(_) ->
    io:format(standard_error, "usage: -s strata_bench_sup main SUITE N logged|quiet~n", []),
    halt(2).

init({Strategy, Children}) ->
    Flags = #{strategy => Strategy, intensity => 1000000000, period => 1},
    {ok, {Flags, Children}}.

child(Id) ->
    #{id => Id, start => {strata_bench_worker, start_link, [self(), Id]}}.

run("restart-sustained", N) ->
    {ok, Sup} = supervisor:start_link(?MODULE, {one_for_one, [child(0)]}),
    {0, First} = next_start(),
    Us = restart_loop(N, First, []),
    [{0, Last, worker, _}] = supervisor:which_children(Sup),
    expect(is_pid(Last), "the worker is running", []),
    Tenth = max(1, N div 10),
    Sorted = lists:sort(Us),
    Median = percentile(Sorted, 0.5),
    P99 = percentile(Sorted, 0.99),
    FirstTenth = percentile(lists:sort(lists:sublist(lists:reverse(Us), Tenth)), 0.5),
    LastTenth = percentile(lists:sort(lists:sublist(Us, Tenth)), 0.5),
    emit("restart-sustained", "crash to restarted, median", "us", Median, 0),
    emit("restart-sustained", "crash to restarted, 99th percentile", "us", P99, 0),
    emit("restart-sustained", "last tenth over first tenth (flat: 1)", "x", LastTenth / FirstTenth, 0);
run("one-for-all", N) ->
    {ok, Sup} = supervisor:start_link(?MODULE, {one_for_all, [child(I) || I <- lists:seq(0, N - 1)]}),
    [next_start() || _ <- lists:seq(1, N)],
    Ms = [one_for_all_round(Sup, N) || _ <- lists:seq(1, 5)],
    emit("one-for-all", "restart of all children", "ms", percentile(lists:sort(Ms), 0.5), N);
run("dynamic-start", N) ->
    Template = #{id => w, start => {strata_bench_worker, start_link, [self()]}},
    {ok, Sup} = supervisor:start_link(?MODULE, {simple_one_for_one, [Template]}),
    Start = now_us(),
    [{ok, _} = supervisor:start_child(Sup, [I]) || I <- lists:seq(0, N - 1)],
    Us = now_us() - Start,
    [next_start() || _ <- lists:seq(1, N)],
    Counts = supervisor:count_children(Sup),
    expect(proplists:get_value(active, Counts) =:= N, "every dynamic child runs: ~p", [Counts]),
    emit("dynamic-start", "time per child", "us", Us / N, N);
run(Suite, _) ->
    io:format(standard_error, "unknown suite '~s'~n", [Suite]),
    halt(2).

restart_loop(0, _, Acc) -> Acc;
restart_loop(K, Child, Acc) ->
    Start = now_us(),
    gen_server:cast(Child, crash),
    {0, Next} = next_start(),
    Us = now_us() - Start,
    expect(Next =/= Child, "the worker was restarted", []),
    restart_loop(K - 1, Next, [Us | Acc]).

one_for_all_round(Sup, N) ->
    Children = supervisor:which_children(Sup),
    expect(length(Children) =:= N, "every worker is running", []),
    {_, Victim, _, _} = lists:keyfind(N div 2, 1, Children),
    Start = now_us(),
    gen_server:cast(Victim, crash),
    Ids = lists:sort([Id || {Id, _} <- [next_start() || _ <- lists:seq(1, N)]]),
    expect(Ids =:= lists:seq(0, N - 1), "each worker restarted once", []),
    (now_us() - Start) / 1000.

next_start() ->
    receive
        {started, Id, Pid} -> {Id, Pid}
    after 30000 ->
        expect(false, "a worker reported its start within 30 s", [])
    end.

percentile(Sorted, P) ->
    lists:nth(1 + trunc(P * (length(Sorted) - 1)), Sorted).

now_us() -> erlang:monotonic_time(microsecond).

expect(true, _, _) -> ok;
expect(false, Format, Args) ->
    io:format(standard_error, "WRONG RESULT: " ++ Format ++ "~n", Args),
    halt(3).

emit(Suite, Metric, Unit, Value, N) ->
    io:format("{\"suite\":\"~s\",\"system\":\"~s\",\"metric\":\"~s\",\"unit\":\"~s\","
              "\"value\":~.6g,\"n\":~b,\"better\":\"lower\"}~n",
              [Suite, get(system), Metric, Unit, float(Value), N]).
