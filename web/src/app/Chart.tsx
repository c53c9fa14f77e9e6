// A live line chart (uPlot) of one series over time.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export function Chart(props: { title: string; unit: string; times: number[]; values: number[]; color: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current) return;
    plot.current = new uPlot(
      {
        title: props.title,
        width: 360,
        height: 160,
        scales: { x: { time: true } },
        series: [{}, { label: props.unit, stroke: props.color, width: 2, fill: props.color + "22" }],
        axes: [{ stroke: "#889" }, { stroke: "#889", size: 56 }],
        legend: { show: false },
      },
      [[], []],
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.title, props.unit, props.color]);
  useEffect(() => {
    plot.current?.setData([props.times, props.values]);
  }, [props.times, props.values]);
  return <div className="chart" ref={box} data-testid={"chart-" + props.unit} />;
}
