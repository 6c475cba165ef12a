%% The workloads of bench/micro (bench/micro/workloads.cpp), in Erlang: the same work, the
%% same result checks, the same JSON lines (bench/common/harness.hpp), with system "erlang".
%%
%%   erl -noshell -pa DIR -s strata_bench main SUITE N
%%
%% A wrong result halts with status 3, like the C++ programs.
-module(strata_bench).
-export([main/1]).

main([Suite, NText]) ->
    N = list_to_integer(atom_to_list(NText)),
    run(atom_to_list(Suite), N),
    halt(0);
main(_) ->
    io:format(standard_error, "usage: -s strata_bench main SUITE N~n", []),
    halt(2).

run("ping-pong", N) ->
    Pong = spawn(fun pong/0),
    Self = self(),
    Start = now_us(),
    spawn(fun() -> Pong ! {ping, self(), N}, ping(Pong, Self, N) end),
    Rounds = receive {done, R} -> R end,
    Us = now_us() - Start,
    expect(Rounds =:= N, "ping-pong made ~p of ~p round trips", [Rounds, N]),
    exit(Pong, kill),
    emit("ping-pong", "round trip", "us", Us / N, lower, 0);
run("counting", N) ->
    Self = self(),
    Counter = spawn(fun() -> counter(0) end),
    Start = now_us(),
    spawn(fun() ->
                  produce(Counter, N),
                  Counter ! {count, self()},
                  receive {total, T} -> Self ! {done, T} end
          end),
    Total = receive {done, T} -> T end,
    Us = now_us() - Start,
    expect(Total =:= N, "counting summed ~p, expected ~p", [Total, N]),
    exit(Counter, kill),
    emit("counting", "messages per second", "M/s", N / Us, higher, 0);
run("fan-in", N) ->
    Self = self(),
    Sink = spawn(fun() -> sink(Self, 2 * N, 0) end),
    Start = now_us(),
    [spawn(fun() -> produce(Sink, N) end) || _ <- [1, 2]],
    Got = receive {done, G} -> G end,
    Us = now_us() - Start,
    expect(Got =:= 2 * N, "fan-in received ~p", [Got]),
    emit("fan-in", "messages per second (2 senders)", "M/s", 2 * N / Us, higher, 0);
run("skynet", N) ->
    Self = self(),
    Start = now_us(),
    spawn(fun() -> skynet(Self, 0, N) end),
    Sum = receive {sum, S} -> S end,
    Us = now_us() - Start,
    Want = N * (N - 1) div 2,
    expect(Sum =:= Want, "skynet summed ~p, expected ~p", [Sum, Want]),
    emit("skynet", "time", "s", Us / 1.0e6, lower, 0);
run("spawn", N) ->
    Before = resident_bytes(),
    Start = now_us(),
    Pids = spawn_idle(N, []),
    SpawnUs = now_us() - Start,
    Grown = resident_bytes() - Before,
    Self = self(),
    Sink = spawn(fun() -> sink(Self, N, 0) end),
    Start2 = now_us(),
    [P ! {ping, Sink} || P <- Pids],
    Answered = receive {done, A} -> A end,
    MessageUs = now_us() - Start2,
    expect(Answered =:= N, "idle processes answered ~p", [Answered]),
    [exit(P, kill) || P <- Pids],
    emit("spawn", "time per spawn", "us", SpawnUs / N, lower, N),
    emit("spawn", "resident bytes per idle actor", "B", Grown / N, lower, N),
    emit("spawn", "time per message to an idle actor", "us", MessageUs / N, lower, N);
run(Suite, _) ->
    io:format(standard_error, "unknown suite '~s'~n", [Suite]),
    halt(2).

pong() ->
    receive
        {ping, From, Left} -> From ! {pong, Left}, pong()
    end.

ping(Pong, Done, N) ->
    receive
        {pong, Left} when Left > 1 -> Pong ! {ping, self(), Left - 1}, ping(Pong, Done, N);
        {pong, _} -> Done ! {done, N}
    end.

counter(Sum) ->
    receive
        {count, From} -> From ! {total, Sum}, counter(Sum);
        X -> counter(Sum + X)
    end.

sink(Done, Expected, Expected) -> Done ! {done, Expected};
sink(Done, Expected, Got) -> receive _ -> sink(Done, Expected, Got + 1) end.

produce(_, 0) -> ok;
produce(Dst, N) -> Dst ! 1, produce(Dst, N - 1).

skynet(Parent, Num, 1) -> Parent ! {sum, Num};
skynet(Parent, Num, Size) ->
    Part = Size div 10,
    Self = self(),
    [spawn(fun() -> skynet(Self, Num + I * Part, Part) end) || I <- lists:seq(0, 9)],
    Parent ! {sum, collect(10, 0)}.

collect(0, Sum) -> Sum;
collect(K, Sum) -> receive {sum, X} -> collect(K - 1, Sum + X) end.

idle() ->
    receive
        {ping, Collector} -> Collector ! 1, idle()
    end.

spawn_idle(0, Acc) -> Acc;
spawn_idle(K, Acc) -> spawn_idle(K - 1, [spawn(fun idle/0) | Acc]).

resident_bytes() ->
    {ok, Text} = file:read_file("/proc/self/statm"),
    [_, Resident | _] = string:split(binary_to_list(Text), " ", all),
    list_to_integer(Resident) * 4096.

now_us() -> erlang:monotonic_time(microsecond).

expect(true, _, _) -> ok;
expect(false, Format, Args) ->
    io:format(standard_error, "WRONG RESULT: " ++ Format ++ "~n", Args),
    halt(3).

emit(Suite, Metric, Unit, Value, Better, N) ->
    io:format("{\"suite\":\"~s\",\"system\":\"erlang\",\"metric\":\"~s\",\"unit\":\"~s\","
              "\"value\":~.6g,\"n\":~b,\"better\":\"~s\"}~n",
              [Suite, Metric, Unit, float(Value), N, Better]).
